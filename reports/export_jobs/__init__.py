"""Report export jobs (CSV and Excel written by a Celery worker, with progress and a download
kept a day): see docs/exports.md, "Export jobs"."""
