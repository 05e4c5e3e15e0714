"""Old home of the multi-process word2vec trainer: now :mod:`rnnlab.word2vec.processes`.

Importing this gives that very module (so patches made here reach it);
``python -m rnnlab.word2vec_dist JOB`` runs one launched process, as before.
"""

import sys

from rnnlab.word2vec import processes

if __name__ == "__main__":
    sys.exit(processes.main())
else:
    sys.modules[__name__] = processes
