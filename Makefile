# The two commands of the README. Both create .venv/ on first use.
PY := .venv/bin/python
export HF_HUB_OFFLINE := 1
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: book test install install-test browser sandbox release clean
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

book: install release           ## install everything and build the book into _build/html
	$(PY) -m autograde book       # pages executed in parallel first, then jupyter-book build --all -W -n --keep-going .

test: install-test browser sandbox release  ## install what the tests need and run them (whole files to 2 workers, longest first)
	$(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder

install: .venv/.installed
install-test: .venv/.installed-test

.venv/.installed: requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

.venv/.installed-test: .venv/.installed requirements-test.txt
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@

browser:                        ## Debian's chromium and chromedriver, for the browser test of the built book
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  $(SUDO) apt-get install -y -q chromium chromium-driver || \
	  { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium chromium-driver; }

sandbox:                        ## bubblewrap, the sandbox every grading kernel runs in (autograde/sandbox.py)
	@command -v bwrap >/dev/null || $(SUDO) apt-get install -y -q bubblewrap || \
	  { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q bubblewrap; }

release: install                ## write the student notebooks into autograde/release/
	$(PY) -m autograde release

clean:
	rm -rf _build autograde/release
