"""Batches grouped by length: a permutation whose batches hold similar lengths."""

from __future__ import annotations

import torch

from rnnlab.training import FitConfig, fit
from rnnlab.training.data import TensorPairs, group_by_length, lengths_of


def test_grouping_is_a_permutation_of_sorted_pools_in_shuffled_batches():
    lengths = torch.randint(1, 500, (1000,))
    order = torch.randperm(1000, generator=torch.Generator().manual_seed(0))
    grouped = group_by_length(order, lengths, 16, generator=torch.Generator().manual_seed(1),
                              pool=10)
    assert sorted(grouped.tolist()) == list(range(1000))
    batches = grouped.split(16)
    spread = torch.stack([lengths[b].max() - lengths[b].min() for b in batches[:-1]])
    mixed = torch.stack([lengths[b].max() - lengths[b].min() for b in order.split(16)[:-1]])
    assert spread.float().mean() < 0.3 * mixed.float().mean()  # far tighter than random
    firsts = [lengths[b].min().item() for b in batches]
    assert firsts != sorted(firsts)  # the batches themselves come in a shuffled order
    again = group_by_length(order, lengths, 16, generator=torch.Generator().manual_seed(1),
                            pool=10)
    assert torch.equal(grouped, again)


def test_lengths_are_found_only_as_the_last_integer_input():
    x, y = torch.zeros(4, 3, 2), torch.zeros(4, dtype=torch.long)
    assert lengths_of(TensorPairs(x, y)) is None
    assert lengths_of(TensorPairs((x, torch.ones(4)), y)) is None  # float: not lengths
    assert torch.equal(lengths_of(TensorPairs((x, torch.tensor([1, 2, 3, 3])), y)),
                       torch.tensor([1, 2, 3, 3]))


def test_fit_with_grouped_batches_sees_every_example_and_repeats_with_its_seed():
    from rnnlab.models.classifier import ClassifierConfig, SequenceClassifier

    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 20, 3, generator=g)
    lengths = torch.randint(1, 21, (64,), generator=g)
    y = (x[:, 0, 0] > 0).long()

    def run():
        torch.manual_seed(0)
        model = SequenceClassifier(ClassifierConfig(input_size=3, num_classes=2, cell="gru",
                                                    num_units=8))
        seen = []
        model.register_forward_pre_hook(lambda m, args: seen.append(len(args[0])))
        history = fit(model, ((x, lengths), y), loss_fn=torch.nn.functional.cross_entropy,
                      config=FitConfig(epochs=2, batch_size=8, device="cpu", plot=False,
                                       group_by_length=True))
        return history.rows, sum(seen)

    rows, seen = run()
    assert seen == 2 * 64 and rows == run()[0]
