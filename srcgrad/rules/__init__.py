"""Derivative rules, one row per function, grouped by topic; importing this package registers them all.

- :mod:`.registry` — the tables and :func:`~.registry.defrule`, which fills them;
- :mod:`.operators` — Python's operators (``+ - * / ** %``, unary minus) and the ufuncs that are the same maths;
- :mod:`.builtins` — ``min``, ``max``, ``sum``, ``float``, ``sorted``, ``divmod``, and what passes no gradient;
- :mod:`.math` — the ``math`` module (Python floats);
- :mod:`.shaping` — what the NumPy rules share: gradients moved between shapes and dtypes (``unreduce``);
- :mod:`.elementwise` — NumPy's ufuncs and unary maths, complex parts, ``clip``, ``where``;
- :mod:`.reductions` — ``sum mean prod max min var std cumsum cumprod trace linalg.norm``;
- :mod:`.shapes` — ``reshape transpose concatenate stack split tile repeat take sort`` and the like;
- :mod:`.pieces` — the other joins and splits: ``array_split hsplit vsplit dsplit column_stack dstack append``;
- :mod:`.layout` — elements moved, masked or differenced: ``roll rot90 diagonal tril triu pad diff partition``;
- :mod:`.products` — ``kron cross``;
- :mod:`.signals` — ``gradient convolve correlate`` (finite differences, 1-d convolutions), and ``astype``;
- :mod:`.conv` — convolutions and pooling of batches of signals and images (``conv conv_transpose max_pool
  mean_pool``), PyTorch's layouts, each gradient written in the others;
- :mod:`.fft` — ``np.fft``: the transforms, real and complex, and the shifts;
- :mod:`.linalg` — ``@ dot outer inner tensordot einsum linalg.inv det solve``;
- :mod:`.decompositions` — ``linalg.svd eigh eig pinv slogdet cholesky qr matrix_power``;
- :mod:`.creation` — arrays made from values (``np.array linspace full arange meshgrid unique np.r_``);
- :mod:`.constants` — NumPy's functions, methods and properties that pass no gradient;
- :mod:`.scipy_special` — ``scipy.special``, registered once the program has imported it;
- :mod:`.scipy_stats` — ``scipy.stats`` densities (``norm.logpdf``...), registered once it is imported;
- :mod:`.scipy_multivariate` — ``scipy.stats.multivariate_normal`` and ``dirichlet``, likewise;
- :mod:`.scipy_linalg` — ``scipy.linalg``'s ``solve_triangular sqrtm solve_sylvester cho_factor cho_solve solve_banded``, likewise;
- :mod:`.scipy_signal` — ``scipy.signal``'s ``convolve correlate`` (n-d), likewise;
- :mod:`.scipy_integrate` — ``scipy.integrate.odeint``, by the adjoint method and forward sensitivities, likewise;
- :mod:`.runtime` — srcgrad's own helpers, so generated code can be differentiated again.
"""

from . import builtins  # noqa: F401
from . import constants  # noqa: F401
from . import conv  # noqa: F401
from . import creation  # noqa: F401
from . import decompositions  # noqa: F401
from . import elementwise  # noqa: F401
from . import fft  # noqa: F401
from . import layout  # noqa: F401
from . import linalg  # noqa: F401
from . import math  # noqa: F401
from . import operators  # noqa: F401
from . import pieces  # noqa: F401
from . import products  # noqa: F401
from . import reductions  # noqa: F401
from . import runtime  # noqa: F401
from . import scipy_integrate  # noqa: F401
from . import scipy_linalg  # noqa: F401
from . import scipy_multivariate  # noqa: F401
from . import scipy_signal  # noqa: F401
from . import scipy_special  # noqa: F401
from . import scipy_stats  # noqa: F401
from . import shapes  # noqa: F401
from . import shaping  # noqa: F401
from . import signals  # noqa: F401
from .registry import defrule, nograd

__all__ = ["defrule", "nograd"]
