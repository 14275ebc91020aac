def test_launcher():
    assert True
