# Entry points a newcomer can paste: `make run` and `make test` (see README.md).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
TOPIC_MODEL := models/build/topic-classifier.joblib
KIND_MODEL  := models/build/kind-classifier.joblib
ENCODER     := models/build/e5-small-onnx/model.onnx
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup system model run test lint bench eval

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP) model

system:
	bash scripts/install-system.sh

# Retrained only when their labelled data, code or the encoder change. The topic classifier reads the
# encoder's passage vectors, so the encoder is built first; the kind classifier learns from what the
# rule extractor makes of the train split, so any mining code or data change retrains it.
$(TOPIC_MODEL): $(STAMP) $(ENCODER) $(wildcard corpus/topics/*) $(wildcard corpus/gold/*) service/mining/topics.py service/mining/train_topics.py
	$(PY) -m service.mining.train_topics

$(KIND_MODEL): $(TOPIC_MODEL) $(wildcard corpus/gold/*) $(wildcard corpus/orgs/*) corpus/dict/party_terms.txt $(wildcard service/mining/*.py)
	$(PY) -m service.mining.train_kinds

model: $(STAMP)
	$(PY) -m models.build
	$(MAKE) --no-print-directory $(TOPIC_MODEL) $(KIND_MODEL)

run: system setup
	$(VENV)/bin/jingyan serve

test: system setup
	$(VENV)/bin/ruff check service tests bench models
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check service tests bench models

bench: setup
	$(PY) -m bench.intake

eval: setup
	$(VENV)/bin/jingyan eval
