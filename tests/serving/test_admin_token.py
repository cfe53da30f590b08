from churnops.serve import admin_token


def test_admin_token_comes_from_the_environment_or_a_mounted_secret_file(tmp_path, monkeypatch):
    monkeypatch.delenv("CHURNOPS_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("CHURNOPS_ADMIN_TOKEN_FILE", raising=False)
    assert admin_token() is None  # the admin endpoint stays disabled
    secret = tmp_path / "token"
    secret.write_text("s3cret\n")  # a Kubernetes Secret volume file, trailing newline and all
    monkeypatch.setenv("CHURNOPS_ADMIN_TOKEN_FILE", str(secret))
    assert admin_token() == "s3cret"
    monkeypatch.setenv("CHURNOPS_ADMIN_TOKEN_FILE", str(tmp_path / "missing"))
    assert admin_token() is None
    monkeypatch.setenv("CHURNOPS_ADMIN_TOKEN", "from-env")
    assert admin_token() == "from-env"
