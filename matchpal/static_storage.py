"""WhiteNoise's manifest storage for static files, with each file's URL worked out once per
process.

`{% static %}` asks the storage for a file's URL on every call: the manifest's hashed name, then
`urljoin` with STATIC_URL, 55 µs a call measured on a loaded machine, and the base layout
has five (docs/performance.md, "The per-request floor"). With DEBUG off the manifest is read once
when the process starts and does not change while it runs, so the URL of a name does not change
either: the first answer is kept (an error, such as a file missing from the manifest, is not).
`collectstatic` empties what was kept, as it writes a new manifest.
"""

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._urls: dict[tuple[str, bool], str] = {}

    def url(self, name: str, force: bool = False) -> str:
        if force:
            return str(super().url(name, force=True))
        key = (name, settings.DEBUG)  # with DEBUG on, the plain name: kept apart
        found = self._urls.get(key)
        if found is None:
            found = self._urls[key] = str(super().url(name))
        return found

    def post_process(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        self._urls.clear()
        yield from super().post_process(*args, **kwargs)
        self._urls.clear()
