"""What generated code calls, and nothing that reaches the cache or the compiler.

- :mod:`.accumulate` — ``accum`` (``None`` is the one zero) and ``unbroadcast``;
- :mod:`.tape` — the tapes of loops (``push``, ``pop``);
- :mod:`.structure` — gradients of containers, objects and closures, and the user's view of them;
- :mod:`.questions` — the normaliser's checks at run time (views, arrays, a callee's writes);
- :mod:`.backs` — pullback objects (``Back``, ``RuleBack``...) and their layouts;
- :mod:`.as_user` — gradients as the user sees them, differentiable again;
- :mod:`.zeros` — forward mode's zero tangents;
- :mod:`.located` — where in the user's code a run-time error comes from.

The helpers that do reach the cache (``pullback``, ``tangent_call``...) are
in :mod:`srcgrad.calls`, handed to the compiler through :mod:`srcgrad.compiler.provided`.
"""
