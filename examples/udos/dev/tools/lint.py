"""Run the linters the CI runs."""

import subprocess
import sys

sys.exit(subprocess.call(["ruff", "check", "."]))
