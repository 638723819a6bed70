from judgekit.cli.app import main

main()
