"""course_lib: the shared helpers of the hands-on multimodal AI course."""
import os

# The course runs offline: make the Hugging Face libraries fail fast instead of trying the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

from .doctor import doctor  # noqa: E402
from .exercises import check  # noqa: E402
from .paths import DATA_DIR, REPO_DIR  # noqa: E402
from .seeding import seed_everything  # noqa: E402

__all__ = ["DATA_DIR", "REPO_DIR", "check", "doctor", "seed_everything"]
__version__ = "0.1.0"
