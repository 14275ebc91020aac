def run(args):
    print("uDOS commands: help, grid, tui")
    return 0
