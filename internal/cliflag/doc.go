// Package cliflag holds pflag.Value types shared by lagtrail's commands, so
// that every flag of a kind reads its values the same way.
package cliflag
