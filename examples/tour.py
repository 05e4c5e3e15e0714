"""The notebook's walkthrough with rnnlab: run ``python examples/tour.py``."""

from rnnlab.tasks.tour import run_tour

if __name__ == "__main__":
    for step in run_tour(seed=42):
        print(f"== {step.title}\n{step.text}\n")
