"""Where Vigil looks when nothing says otherwise: the config file and the database."""

DEFAULT_CONFIG_PATH = "vigil.yaml"
DEFAULT_DATABASE_URL = "sqlite:///vigil.db"
