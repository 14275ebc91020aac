module github.com/fredporter/udos/tui

go 1.22

require (
	github.com/charmbracelet/bubbletea v0.27.1
	github.com/charmbracelet/lipgloss v0.13.0
)

require github.com/muesli/termenv v0.15.2 // indirect
