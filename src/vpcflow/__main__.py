from vpcflow.cli import main

main()
