from api.cli.main import main

raise SystemExit(main())
