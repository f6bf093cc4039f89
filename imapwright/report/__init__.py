"""Run reports: JSON summary and a readable HTML page (JUnit XML comes from pytest itself)."""
