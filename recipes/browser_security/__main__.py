from .site import main

main()
