"""A scripted OpenAI-compatible judge server on 127.0.0.1, for tests and benchmarks."""

from judgekit.testing.native import MALFORMED
from judgekit.testing.server import Faults, Script, ScriptedJudgeServer, ServerState, judged_texts

__all__ = ["MALFORMED", "Faults", "Script", "ScriptedJudgeServer", "ServerState", "judged_texts"]
