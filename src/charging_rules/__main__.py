from charging_rules.cli.app import main

main()
