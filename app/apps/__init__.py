"""What the native-app protocols (Google Reader API, Fever) share: app passwords and
the mapping of Kith's people, relationships and read state onto feeds, folders and
read/star flags. The faces (``app/greader``, ``app/fever``) import this, never each
other."""
