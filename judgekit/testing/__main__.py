"""`python -m judgekit.testing --port P --latency S`: the scripted judge server in its own process."""

from judgekit.testing.server import main

main()
