"""Test settings: fast mode, offline data, no plotting window. Set before anything imports course_utils,
and inherited by the notebook kernels that nbval starts."""

import os

os.environ["COURSE_FAST"] = "1"
os.environ["COURSE_OFFLINE"] = "1"
os.environ["MPLBACKEND"] = "Agg"
