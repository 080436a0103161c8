#!/usr/bin/env python3
"""An acme-dns client built on pyacmedns (the library certbot-dns-acmedns uses), for dns01 serve's
tests: `register DOMAIN` registers at $ACMEDNS_URL and stores the account in $ACMEDNS_STORAGE
(pyacmedns's Storage, 0600); as certbot's --manual-auth-hook (no arguments) it sets
$CERTBOT_VALIDATION through /update with the stored account of $CERTBOT_DOMAIN."""
import os
import sys

from pyacmedns import Client, Storage

client = Client(os.environ["ACMEDNS_URL"])
storage = Storage(os.environ["ACMEDNS_STORAGE"])
if len(sys.argv) == 3 and sys.argv[1] == "register":
    account = client.register_account(None)
    storage.put(sys.argv[2], account)
    storage.save()
    print(account["fulldomain"])
else:
    account = storage.fetch(os.environ["CERTBOT_DOMAIN"])
    if account is None:
        sys.exit("no acme-dns account stored for " + os.environ["CERTBOT_DOMAIN"])
    client.update_txt_record(account, os.environ["CERTBOT_VALIDATION"])
