from bastion.cli import entry

entry()
