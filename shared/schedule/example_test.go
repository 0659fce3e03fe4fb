package schedule_test

import (
	"fmt"
	"time"

	"github.com/plinth-ai/plinth/shared/schedule"
)

func ExampleParse() {
	s, err := schedule.Parse("cron(0 9 ? * MON-FRI *)") // 09:00 UTC on weekdays
	if err != nil {
		panic(err)
	}
	friday := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	fmt.Println(s.Next(friday))
	// Output: 2026-01-05 09:00:00 +0000 UTC
}
