"""Fixtures the identity tests share with the gate-form tests."""

from tests.flows.test_gate_form import background  # noqa: F401  (a fixture, found by name)
