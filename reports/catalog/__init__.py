"""One module per report (docs/reports.md, "Adding a report"). `ReportsConfig.ready` imports
every module here, and each registers its report with `reports.framework.register`."""
