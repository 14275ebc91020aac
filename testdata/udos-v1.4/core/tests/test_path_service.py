from core.services.path_service import find_repo_root


def test_root():
    assert find_repo_root()
