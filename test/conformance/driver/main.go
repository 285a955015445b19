// cnidriver runs one conflist operation through libcni, the library that
// containerd, CRI-O and podman use, so tests see our plugins exactly as those
// runtimes drive them. It prints the result (ADD) or {} on success, and the
// error as {"code","msg","details"} with exit status 1 on failure.
//
// Debian's libcni is 1.1.2, which predates GC and STATUS (spec 1.1.0); for
// those two commands the driver invokes each plugin of the list itself with
// libcni's invoke package, as libcni 1.2 does.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
)

type options struct {
	conflist, command, containerID, netns, ifname string
	cniPath, capArgs, cacheDir, cniArgs, valid     string
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.conflist, "conflist", "", "path of the .conflist file")
	flag.StringVar(&o.command, "command", "", "add | check | del | gc | status")
	flag.StringVar(&o.containerID, "container-id", "", "CNI_CONTAINERID")
	flag.StringVar(&o.netns, "netns", "", "CNI_NETNS (path of the pod network namespace)")
	flag.StringVar(&o.ifname, "ifname", "eth0", "CNI_IFNAME")
	flag.StringVar(&o.cniPath, "cni-path", "/usr/lib/cni", "plugin directories, colon-separated")
	flag.StringVar(&o.capArgs, "cap-args", "", "capability arguments as a JSON object, e.g. {\"portMappings\":[...]}")
	flag.StringVar(&o.cacheDir, "cache-dir", "", "libcni result cache directory (default /var/lib/cni)")
	flag.StringVar(&o.cniArgs, "args", "", "CNI_ARGS, e.g. K8S_POD_NAME=a;K8S_POD_NAMESPACE=b")
	flag.StringVar(&o.valid, "valid-attachments", "[]", "gc: JSON list of {\"containerID\",\"ifname\"} to keep")
	flag.Parse()
	return o
}

func runtimeConf(o options) (*libcni.RuntimeConf, error) {
	rt := &libcni.RuntimeConf{ContainerID: o.containerID, NetNS: o.netns, IfName: o.ifname}
	if o.capArgs != "" {
		if err := json.Unmarshal([]byte(o.capArgs), &rt.CapabilityArgs); err != nil {
			return nil, fmt.Errorf("-cap-args: %w", err)
		}
	}
	for _, kv := range strings.Split(o.cniArgs, ";") {
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("-args: %q is not KEY=VALUE", kv)
		}
		rt.Args = append(rt.Args, [2]string{k, v})
	}
	return rt, nil
}

func run(o options) (interface{}, error) {
	list, err := libcni.ConfListFromFile(o.conflist)
	if err != nil {
		return nil, err
	}
	rt, err := runtimeConf(o)
	if err != nil {
		return nil, err
	}
	paths := filepath.SplitList(o.cniPath)
	cni := libcni.NewCNIConfigWithCacheDir(paths, o.cacheDir, nil)
	ctx := context.Background()
	switch o.command {
	case "add":
		return cni.AddNetworkList(ctx, list, rt)
	case "check":
		return struct{}{}, cni.CheckNetworkList(ctx, list, rt)
	case "del":
		return struct{}{}, cni.DelNetworkList(ctx, list, rt)
	case "gc", "status":
		return struct{}{}, perPlugin(ctx, list, strings.ToUpper(o.command), paths, o.valid)
	}
	return nil, fmt.Errorf("-command: %q is not one of add, check, del, gc, status", o.command)
}

// perPlugin sends a list-wide command (GC, STATUS) to every plugin in order,
// with the list's name and version injected as libcni does for ADD.
func perPlugin(ctx context.Context, list *libcni.NetworkConfigList, command string, paths []string, valid string) error {
	inject := map[string]interface{}{"name": list.Name, "cniVersion": list.CNIVersion}
	if command == "GC" {
		var attachments []map[string]string
		if err := json.Unmarshal([]byte(valid), &attachments); err != nil {
			return fmt.Errorf("-valid-attachments: %w", err)
		}
		inject["cni.dev/valid-attachments"] = attachments
	}
	for _, plugin := range list.Plugins {
		conf, err := libcni.InjectConf(plugin, inject)
		if err != nil {
			return err
		}
		exe, err := invoke.FindInPath(plugin.Network.Type, paths)
		if err != nil {
			return err
		}
		args := &invoke.Args{Command: command, Path: strings.Join(paths, string(os.PathListSeparator))}
		if err := invoke.ExecPluginWithoutResult(ctx, exe, conf.Bytes, args, nil); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	out, err := run(parseFlags())
	enc := json.NewEncoder(os.Stdout)
	if err != nil {
		var cniErr *types.Error
		if !errors.As(err, &cniErr) {
			cniErr = &types.Error{Code: 0, Msg: err.Error()}
		}
		_ = enc.Encode(cniErr)
		os.Exit(1)
	}
	_ = enc.Encode(out)
}
