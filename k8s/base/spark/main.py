"""The SparkApplication's main file (k8s/base/spark/features.yaml): spark-submit runs a Python application from a
.py file, not from a console script, so this file is the `churnops` command (the image copies it to
/opt/churnops/spark-main.py). Its arguments are the command's: `cluster-run features`."""
import sys

from churnops.cli import main

sys.exit(main())
