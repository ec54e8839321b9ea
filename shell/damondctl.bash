# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for damondctl(8)

_damondctl()
{
	local cur prev words cword
	_init_completion || return

	local verbs="status reload rescan check features regions metrics import-damo export"
	local opts="--help --version --runtime-dir --json --no-pager --timeout"

	case $prev in
	--runtime-dir)
		_filedir -d
		return
		;;
	--timeout)
		return
		;;
	--config)
		_filedir 'y?(a)ml'
		return
		;;
	--format)
		COMPREPLY=($(compgen -W "json yaml" -- "$cur"))
		return
		;;
	esac

	local i verb=""
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--runtime-dir | --config | --format) ((i++)) ;;
		-*) ;;
		*) verb=${words[i]}; break ;;
		esac
	done

	case $verb in
	status | "") opts+=" --details --watch" ;;
	import-damo) opts+=" --raw --human" ;;
	export) opts+=" --damo --config --format" ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return
	fi
	case $verb in
	"") COMPREPLY=($(compgen -W "$verbs" -- "$cur")) ;;
	check) _filedir 'y?(a)ml' ;;
	import-damo) _filedir '@(json|y?(a)ml)' ;;
	regions)
		# the running kdamonds' names, when damond answers
		local names
		names=$(damondctl --json --no-pager status 2>/dev/null |
			grep -o '"name": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/' | sort -u)
		COMPREPLY=($(compgen -W "$names" -- "$cur"))
		;;
	esac
} &&
	complete -F _damondctl damondctl
