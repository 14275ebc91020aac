from core.services.path_service import find_repo_root


def get_repo_root():
    return find_repo_root(marker="uDOS.py")
