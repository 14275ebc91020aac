from core.main import version


def test_version():
    assert version() == "1.4.6"
