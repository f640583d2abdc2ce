"""Test-session set-up shared by tests/ and plugins/*/tests: the loaders find this workplace's data copies."""

from benchmarks.shared_data import use_shared_data

use_shared_data()
