from haocha_cli.cli import main

main()
