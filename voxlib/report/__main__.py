"""``python -m voxlib.report RUN_DIR [--out-dir DIR]`` (see :func:`voxlib.report.main`)."""
import sys

from voxlib.report import main

sys.exit(main())
