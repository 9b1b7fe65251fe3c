"""The API's contract: openapi.yaml, built from template.yaml, the layer's error answers and operations.yaml
(`make openapi`), and the check that it has not drifted from them (`make test`)."""

from api_contract.build import DOCUMENT, SOURCE, TEMPLATE, Built, build, dump, load_source, load_yaml
from api_contract.drift import document_drift

__all__ = ["DOCUMENT", "SOURCE", "TEMPLATE", "Built", "build", "document_drift", "dump", "load_source", "load_yaml"]
