# Two commands on a fresh machine with Python 3.11+: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEMO   ?= demo_district
TERM_ID ?= 2025-26-Q2
WORKERS ?=
PYTEST_ARGS ?=

.PHONY: help venv demo test lab survey-app records-app bench bench-scale clean i18n-extract i18n-update i18n-compile \
	i18n-report-extract i18n-report-update i18n-report-compile

help:
	@echo "make demo        build the demo district and run the quarterly reports"
	@echo "make test        run the whole test suite"
	@echo "make lab         JupyterLab on notebooks/, opening getting_started.ipynb"
	@echo "make survey-app  serve the fit-survey form with Voila on localhost"
	@echo "make records-app serve the check-in and investment forms with Voila on localhost"
	@echo "make bench       run the benchmarks (minutes; large data)"
	@echo "make bench-scale the scale benchmarks of issue 15: 100,000 and 1,000,000 students (about 10 minutes)"
	@echo "make i18n-extract / i18n-update / i18n-compile   interface translations (pybabel; see partner_analysis/i18n.py)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "partner_analysis needs Python 3.11 or newer")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip "setuptools>=77" wheel
	$(PY) -m pip install --quiet -e ".[test,bench,dask,postgres]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m partner_analysis demo --out $(DEMO) --term $(TERM_ID)

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup -q $(PYTEST_ARGS)

lab: $(STAMP)
	cd notebooks && $(abspath $(VENV))/bin/jupyter lab getting_started.ipynb

# With the demo district, each start makes a demo invitation and prints its link: the apps open by link only.
# --renew: a second start gives the same demo invitation a fresh link instead of refusing a duplicate.
DEMO_INVITE = $(PY) -m partner_analysis invite create --data-dir $(DEMO) --role district --renew \
	--email demo.coordinator@example.org --name "Demo coordinator"

survey-app: $(STAMP)
	$(if $(wildcard $(DEMO)/district.yml),$(DEMO_INVITE) --partner P01 --wave demo --base-url http://127.0.0.1:8866/)
	$(PY) -m partner_analysis survey-app $(if $(wildcard $(DEMO)/district.yml),--data-dir $(DEMO))

records-app: $(STAMP)
	$(if $(wildcard $(DEMO)/district.yml),$(DEMO_INVITE) --form records --partner P01,P02 --base-url http://127.0.0.1:8867/)
	$(PY) -m partner_analysis records-app $(if $(wildcard $(DEMO)/district.yml),--data-dir $(DEMO))

bench: $(STAMP)
	$(PY) benchmarks/kpi_panel.py
	$(PY) benchmarks/report_batch.py

# Every figure of issue 15's table in one run, printed together at the end (benchmarks/scale_all.py: the panel
# at 100k and 1M students, the streaming CSV import, the 40-report batch; about 10 minutes on 2 cores, 3 once
# the two districts are generated). Reuse
# districts with SCALE_ARGS="--data-100k DIR --data-1m DIR"; add the 2,000-partner Dask batch (~75 minutes)
# with SCALE_ARGS=--with-2000.
SCALE_ARGS ?=
bench-scale: $(STAMP)
	$(PY) benchmarks/scale_all.py $(SCALE_ARGS)

# Interface translations with Babel (partner_analysis/i18n.py): extract the marked strings into the
# template, merge it into every language's .po (new strings untranslated, changed ones fuzzy), compile
# the .po files to the .mo files read at run time. tests/test_i18n.py fails while any entry is untranslated
# or fuzzy, or a .mo does not match its .po.
LOCALES := partner_analysis/locale
i18n-extract: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -o $(LOCALES)/partner_analysis.pot --project=partner_analysis \
	  --version=0.1.0 --copyright-holder="partner_analysis contributors" --no-wrap --sort-by-file .

i18n-update: i18n-extract
	$(VENV)/bin/pybabel update -i $(LOCALES)/partner_analysis.pot -d $(LOCALES) -D partner_analysis --no-wrap --ignore-obsolete

i18n-compile: $(STAMP)
	$(VENV)/bin/pybabel compile -d $(LOCALES) -D partner_analysis --statistics

# The report text is its own domain (`report`, babel-report.cfg): reports --lang es.
i18n-report-extract: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel-report.cfg -o $(LOCALES)/report.pot --project=partner_analysis \
	  --version=0.1.0 --copyright-holder="partner_analysis contributors" --no-wrap --sort-by-file \
	  -k N_ .

i18n-report-update: i18n-report-extract
	$(VENV)/bin/pybabel update -i $(LOCALES)/report.pot -d $(LOCALES) -D report --no-wrap --ignore-obsolete

i18n-report-compile: $(STAMP)
	$(VENV)/bin/pybabel compile -d $(LOCALES) -D report --statistics

clean:
	rm -rf $(DEMO) reports/*/ .pytest_cache
