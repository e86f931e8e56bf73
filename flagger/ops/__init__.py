"""Operating rollouts by hand, as the user: read canaries, follow them, ask for actions.

:mod:`~flagger.ops.connection` (kubeconfig, context, namespace, RBAC checks),
:mod:`~flagger.ops.reading` (Canaries and Events), :mod:`~flagger.ops.views` (what is shown),
:mod:`~flagger.ops.terminal` (text for a terminal), :mod:`~flagger.ops.requests` (the
``flagger.app/action`` annotation written as the user). The commands themselves are in
:mod:`flagger.cli_ops` (``flagger get|watch|promote|...`` and ``kubectl-flagger``).
"""
