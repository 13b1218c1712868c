import sys
from pathlib import Path

# The helpers in tests/ (gradcheck) are importable from every test file.
sys.path.insert(0, str(Path(__file__).parent))
