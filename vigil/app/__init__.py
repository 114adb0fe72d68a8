"""The application: config assembly, the pipeline wiring (collect, check, notify), the daemon,
metrics, reports and the demo. Imports the stages; only the CLI and the dashboard import it.
"""
