"""What the launcher reports about the installation."""

import os

from ..services.path_utils import get_repo_root as _root  # relative, as in the real tree


def describe(root=None):
    root = root or _root()
    return "root " + os.path.basename(root)
