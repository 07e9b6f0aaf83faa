from deepscope.cli import main

main()
