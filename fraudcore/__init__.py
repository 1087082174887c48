"""What the services of the fraud detection system share.

Settings, message schemas, client factories, bootstrapping (topics, migrations,
indexes) and the embedded stack live here; each service folder is a thin entry
point on top of this package, and no service imports another.
"""

__version__ = "0.1.0"
