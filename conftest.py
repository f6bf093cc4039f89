"""Project-wide pytest settings. The harness itself is the `imapwright` plugin (entry point pytest11)."""

from hypothesis import HealthCheck, settings

# Suites talk to real servers: no deadline per example, fewer examples than hypothesis' default.
settings.register_profile("servers", deadline=None, max_examples=25,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.load_profile("servers")

pytest_plugins = ["pytester"]  # the harness's own tests run inner pytest sessions against its plugin
