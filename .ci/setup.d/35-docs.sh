# docs/docs_test.go runs the guides' shell blocks as written: they use curl
# (and gpg, bash from 00-base).
apt-get install -y -qq curl >/dev/null
