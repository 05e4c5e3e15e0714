"""Datasets and file formats: archives, downloads, IDX, images, aclImdb, texts, series,
sequences (.ts, long CSV/Parquet, .npz), their standardisation and a synthetic generator.

One module per format or dataset; this file only re-exports their public names
(one ``from ... import name as name`` per line, so a new module adds lines, not edits).
"""

from rnnlab.data.archive import safe_extract as safe_extract
from rnnlab.data.download import cache_dir as cache_dir
from rnnlab.data.download import fetch as fetch
from rnnlab.data.download import sha256_file as sha256_file
from rnnlab.data.idx import read_idx as read_idx
from rnnlab.data.idx import write_idx as write_idx
from rnnlab.data.images import DATASETS as DATASETS
from rnnlab.data.images import ImageDataset as ImageDataset
from rnnlab.data.images import images_from_png as images_from_png
from rnnlab.data.images import load_image_dataset as load_image_dataset
from rnnlab.data.imdb import IMDB_SHA256 as IMDB_SHA256
from rnnlab.data.imdb import IMDB_URL as IMDB_URL
from rnnlab.data.imdb import ImdbSplit as ImdbSplit
from rnnlab.data.imdb import download_imdb as download_imdb
from rnnlab.data.imdb import load_imdb as load_imdb
from rnnlab.data.long import read_long as read_long
from rnnlab.data.npz import read_npz as read_npz
from rnnlab.data.npz import write_npz as write_npz
from rnnlab.data.sequence_set import MISSING_POLICIES as MISSING_POLICIES
from rnnlab.data.sequence_set import SequenceSet as SequenceSet
from rnnlab.data.sequences import SEQUENCE_SUFFIXES as SEQUENCE_SUFFIXES
from rnnlab.data.sequences import read_sequences as read_sequences
from rnnlab.data.series import read_series as read_series
from rnnlab.data.standardize import ChannelScaler as ChannelScaler
from rnnlab.data.synthetic_sequences import make_sequences as make_sequences
from rnnlab.data.texts import LabelledTexts as LabelledTexts
from rnnlab.data.texts import read_texts as read_texts
from rnnlab.data.ts import TsHeader as TsHeader
from rnnlab.data.ts import read_ts as read_ts
from rnnlab.data.ts import write_ts as write_ts
