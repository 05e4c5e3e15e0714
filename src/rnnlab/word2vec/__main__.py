"""``python -m rnnlab.word2vec JOB_JSON``: one process of a launched word2vec job."""

import sys

from rnnlab.word2vec.processes import main

sys.exit(main())
