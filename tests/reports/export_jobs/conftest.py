"""Export jobs' tests: files go to a folder of the test's own (the "exports" storage)."""

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def exports_dir(tmp_path: Path, settings) -> Path:  # type: ignore[no-untyped-def]
    folder = tmp_path / "exports"
    settings.STORAGES = {
        **settings.STORAGES,
        "exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(folder)},
        },
    }
    return folder
