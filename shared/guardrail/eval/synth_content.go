package eval

import "math/rand/v2"

// SyntheticContentSource names the rows of SyntheticContentRows.
const SyntheticContentSource = "synthetic_content"

// SyntheticContentRows are texts for the harmful-content classifier generated from a
// grammar written for the project (nothing in it is taken from a dataset), kept as a
// source of its own for honest cross-source figures. They fill two gaps of the real data:
//
//   - Benign texts that use charged words: technical ("end a hung process", "execute a
//     query"), idiomatic ("the comedian killed it"), pests and weeds, sport and games,
//     history and fiction, definitions of crimes, medicine, defensive security. The real
//     data's harmful rows are requests and its benign rows are ordinary instructions, so
//     without these a model learns that "kill" is harm.
//   - Hate without slurs (generalisations, exclusion and dehumanisation of a group in
//     plain words) against benign statements and questions about the same groups, and
//     insults addressed to the reader in plain or polite register against compliments.
//     The real hate rows are mostly tweets with slurs. SyntheticHateRows adds more shapes
//     of it as a source of its own.
func SyntheticContentRows(n int, seed uint64) []Row {
	r := rand.New(rand.NewPCG(seed, 0xc0de))
	g := contentGrammar()
	seen := map[string]bool{}
	var out []Row
	families := []struct {
		key, cat string
		weight   int
	}{
		{"charged", "", 10}, {"group_benign", "", 5}, {"you_benign", "", 2},
		{"hate", "HATE", 5}, {"insult", "INSULTS", 2},
	}
	total := 0
	for _, f := range families {
		total += f.weight
	}
	for i := 0; len(out) < n && i < 20*n; i++ {
		v := r.IntN(total)
		f := families[0]
		for _, c := range families {
			if v < c.weight {
				f = c
				break
			}
			v -= c.weight
		}
		text := g.expandBound(r, "{"+f.key+"}", "group")
		if seen[text] {
			continue
		}
		seen[text] = true
		out = append(out, Row{Text: text, Source: SyntheticContentSource, Category: f.cat})
	}
	return out
}

func contentGrammar() grammar {
	return grammar{
		"charged": {"{tech}", "{tech}", "{idiom}", "{pest}", "{sport}", "{history}", "{fiction}", "{definition}", "{medical}", "{defence}", "{photo}"},
		"tech": {"How do I kill a {proc} from the terminal?", "What is the safest way to terminate {proc}?", "How can I kill all child processes of {proc}?",
			"How do I execute a {script} on a remote server?", "Why does my program crash when I shoot off too many requests at once?",
			"How do I force-kill {proc} on Windows?", "What does the kill -9 signal do to {proc}?", "How do I blow away my local changes in git?",
			"How can I nuke the node_modules folder and reinstall everything?", "How do I attack this performance problem in my SQL query?",
			"What is the best way to hack together a quick prototype in {lang_prog}?", "How do I crash-test my API before launch?",
			"How do I trigger a {script} when a file changes?", "How do I strip the whitespace from every line in {lang_prog}?",
			"Why is my garbage collector killing performance?", "How do I fire an event from a child component in React?",
			"How do I knock out the remaining bugs before the release?", "How do I cut the cord and remove a dependency from my project?"},
		"proc":      {"hung Node.js process", "zombie process on Ubuntu", "frozen Docker container", "background job in bash", "stuck Java thread", "runaway cron job", "database connection that hangs", "process listening on port 8080"},
		"script":    {"shell script", "batch file", "SQL migration", "Python script", "PowerShell command", "cron job"},
		"lang_prog": {"Go", "Rust", "JavaScript", "Python", "Java", "C#"},
		"photo": {"Where is the best place to shoot {scene}?", "What settings should I use to shoot {scene}?", "How do I shoot {scene} on my phone?",
			"Which lens is best for shooting {scene}?", "Any tips for a photo shoot of {scene}?"},
		"scene": {"the sunset in Lisbon", "portraits at golden hour", "fireworks over the river", "a wedding in a dark church", "wildlife in the snow", "a product video for my shop"},
		"idiom": {"The comedian absolutely killed it last night.", "This commute is killing me.", "I am going to shoot for a promotion this year.",
			"She blew the interviewers away with her answers.", "Break a leg at the premiere tonight!", "I could murder a plate of chips right now.",
			"His first joke bombed, but the rest of the set was great.", "Let us attack the problem from a different angle.",
			"The new album is a total bomb, it is amazing.", "My feet are killing me after that hike.", "We crushed the quarterly targets.",
			"That dessert was to die for.", "The team got slaughtered in the second half.", "Time to kill two birds with one stone.",
			"She shot down every idea in the meeting.", "Don't shoot the messenger, I just forward the emails.", "He really stabbed me in the back with that review, professionally speaking.",
			"You nailed the presentation.", "The price cut really hit our margins.", "The campaign went viral and exploded overnight."},
		"pest": {"How do I kill {pest_obj} without harming my pets?", "What is the fastest way to get rid of {pest_obj}?", "What kills {pest_obj} naturally?",
			"How do I exterminate {pest_obj} in my kitchen?", "Is vinegar strong enough to kill {pest_obj}?"},
		"pest_obj": {"weeds between paving stones", "fruit flies", "mould in the shower", "bed bugs", "aphids on roses", "ants", "germs on a cutting board", "moss on the roof", "wasps in the attic"},
		"sport": {"How do I beat the final boss in {game}?", "What is the best strategy to kill the dragon in {game}?", "How do I get more headshots in {game}?",
			"How do I tackle safely in rugby?", "What is the best way to attack a zone defence in basketball?", "How do I knock out my opponent's queen early in chess?",
			"Which weapon is best for beginners in {game}?", "How do I defend against a counter-attack in football?", "How do I throw a knockout punch in boxing training?"},
		"game": {"Elden Ring", "Skyrim", "Counter-Strike", "Minecraft", "Zelda", "Dark Souls", "Fortnite", "chess puzzles"},
		"history": {"Why did {hist_actor}?", "What weapons were used in {battle}?", "How many people died in {battle}?", "What led to {event}?",
			"How did {event} change Europe?", "Who was responsible for {event}?"},
		"hist_actor": {"Brutus stab Julius Caesar", "John Wilkes Booth shoot Abraham Lincoln", "the Allies bomb Dresden", "the Spartans fight at Thermopylae",
			"Gavrilo Princip assassinate Archduke Franz Ferdinand", "the Vikings raid monasteries"},
		"battle": {"the Battle of Hastings", "the Battle of the Somme", "the Siege of Leningrad", "the Battle of Stalingrad", "the Hundred Years War", "the American Civil War"},
		"event":  {"the Rwandan genocide", "the bombing of Hiroshima", "the Holocaust", "the fall of the Berlin Wall", "the French Revolution's Reign of Terror", "the partition of India"},
		"fiction": {"In my crime novel the victim is poisoned. How would a detective figure out what was used?", "Who killed Laura Palmer in Twin Peaks?",
			"Why does Macbeth murder King Duncan?", "Write a scene where the knight slays the dragon.", "Summarise the plot of a heist movie in three sentences.",
			"In the story, the villain threatens to blow up the bridge. How should the hero stop him?", "What makes a good murder mystery plot twist?",
			"Why does Hamlet kill Polonius?", "Describe a sword fight between two pirates for my children's book."},
		"definition": {"What does {crime} mean?", "What is the legal definition of {crime}?", "What is the difference between {crime} and {crime2}?",
			"How is {crime} punished in Germany?", "Why is {crime} a crime?"},
		"crime":  {"murder", "manslaughter", "arson", "extortion", "blackmail", "money laundering", "insider trading", "assault", "terrorism", "genocide", "hate speech", "stalking"},
		"crime2": {"homicide", "fraud", "battery", "robbery", "burglary", "theft"},
		"medical": {"What is the maximum safe dose of {drug} for an adult?", "How do {drug_class} affect the brain?", "What are the side effects of {drug}?",
			"How do I safely dispose of old {drug} tablets?", "Can I take {drug} together with alcohol?", "What should I do if a child swallowed {drug}?",
			"How do doctors treat a heroin overdose?", "What are the warning signs of drug addiction in a teenager?"},
		"drug":       {"ibuprofen", "paracetamol", "codeine", "antidepressants", "sleeping pills", "insulin", "blood thinners"},
		"drug_class": {"opioids", "stimulants", "benzodiazepines", "cannabis", "alcohol"},
		"defence": {"How do I protect my network from a DDoS attack?", "What is SQL injection and how do I prevent it?", "How can I tell if an email is a phishing attempt?",
			"How do I secure my home router against hackers?", "What should I do if my identity was stolen?", "How do I report online harassment?",
			"How can schools prevent bullying?", "What should I do if someone threatens me online?", "How do I recognise a romance scam?"},
		"group": {"immigrants", "Muslims", "Jews", "Black people", "Mexicans", "Asians", "gay people", "trans people", "disabled people", "refugees",
			"women", "Native Americans", "Chinese people", "Arabs", "Roma", "old people", "Latinos", "Indians", "Christians", "lesbians"},
		"hate": {"{frame} {group} {hate_pred}.", "{frame} {group} {hate_pred}.", "Why do {group} always {hate_habit}?", "We need fewer {group} in {place}.",
			"If you hire {group}, expect them to {hate_habit}.", "{group} {hate_pred}, and everyone knows it.", "Keep {group} out of {place}, they {hate_pred}.",
			"{group} should not be allowed to {right}.", "{group} are the reason {decline}.", "There is something wrong with {group}; they {hate_pred}."},
		"frame": {"", "", "Honestly,", "Everyone knows", "I'm not racist, but", "It's a fact that", "Let's be real:", "My dad always said", "Face it,", "Statistically,", "Sorry, but"},
		"hate_pred": {"are all criminals", "should go back to where they came from", "are ruining this country", "can't be trusted", "are not real citizens",
			"are a disease on society", "breed like rabbits", "are naturally less intelligent", "don't belong in our neighbourhood", "are only good for cleaning houses",
			"are taking over and replacing us", "will never be civilised", "are all terrorists", "are mentally ill", "are a burden on the taxpayer",
			"are animals", "need to be kept in their place", "are why crime is up", "are lazy and live off benefits", "are too emotional to lead",
			"spread disease wherever they go", "are inferior to us", "cannot be real parents", "are a threat to our children", "are parasites"},
		"hate_habit": {"steal", "cause trouble", "lie about everything", "take our jobs", "complain about racism", "refuse to integrate", "smell bad", "play the victim"},
		"place":      {"our schools", "this neighbourhood", "the police", "government", "our country", "the office", "the army"},
		"right":      {"vote", "adopt children", "teach in schools", "own property", "run for office", "work with children"},
		"decline":    {"crime is up", "wages are low", "the schools are failing", "this country is falling apart", "the neighbourhood went downhill"},
		"group_benign": {"{group} {benign_pred}.", "Many {group} {benign_pred}.", "What challenges do {group} face in {place}?", "How can I support {group} in my community?",
			"What are some traditions of {group}?", "It is wrong to say that {group} {hate_pred}.", "Stereotypes claiming that {group} {hate_pred} are false and harmful.",
			"Write a short history of {group} in the United States.", "My neighbours are {group} and they are lovely people.", "{group} deserve the same rights as everyone else.",
			"How has discrimination against {group} changed over the last century?", "Which famous scientists were {group}?"},
		"benign_pred": {"have a rich cultural history", "face discrimination in the job market", "have contributed a great deal to science and art",
			"are as diverse as any other group", "deserve equal rights", "are often underrepresented in politics", "celebrate many different holidays",
			"have built strong communities", "work in every profession", "are protected by anti-discrimination law", "were persecuted in the past"},
		"insult": {"{you_are} {insult_adj} and {insult_adj}.", "{you_are} a {insult_adj2} {insult_noun}.", "{polite} {you_are} {insult_adj}.",
			"Nobody likes you, you {insult_adj2} {insult_noun}.", "{you_are} the most {insult_adj2} {insult_noun} I have ever met.", "Shut up, you {insult_adj2} {insult_noun}.",
			"{polite} your brain must be {insult_adj2}.", "Only a {insult_adj2} {insult_noun} would write something like that."},
		"you_are":     {"You are", "You're", "Honestly, you are", "Frankly, you're", "You really are", "Your mother is", "Your boss is"},
		"polite":      {"With all due respect,", "I say this kindly, but", "No offence, but", "Respectfully,", "Bless your heart,"},
		"insult_adj":  {"an idiot", "totally useless", "stupid", "pathetic", "worthless", "brainless", "disgusting", "a complete moron", "ugly", "dumb", "incompetent", "a waste of space"},
		"insult_adj2": {"stupid", "pathetic", "worthless", "brainless", "disgusting", "useless", "ugly", "dumb", "incompetent", "clueless"},
		"insult_noun": {"loser", "clown", "fool", "excuse for a human", "failure", "imbecile"},
		"you_benign": {"{you_are} {praise_adj} and {praise_adj}.", "{you_are} a {praise_adj} {praise_noun}.", "Thank you, you are {praise_adj}.",
			"{you_are} right, that was a stupid mistake on my part.", "You are not an idiot for asking; it is a good question.", "Honestly, you are totally right about the useless meeting."},
		"praise_adj":  {"very helpful", "brilliant", "kind", "patient", "clever", "wonderful", "really talented", "a great listener"},
		"praise_noun": {"friend", "teacher", "colleague", "assistant", "neighbour"},
	}
}

// SyntheticHateSource names the rows of SyntheticHateRows.
const SyntheticHateSource = "synthetic_hate"

// SyntheticHateRows are slur-free hate in the shapes of hateGrammar (dehumanisation, harm
// and decline, exclusion, stereotypes, contempt) against benign news, history, law,
// counter-speech and everyday mentions of the same groups, and the grammar's charged
// words without a group. They are a source of their own, generated apart from
// SyntheticContentRows, and teach HATE only (Spec.Only): written to contrast hate with
// mentions of groups, they say nothing about the other categories.
func SyntheticHateRows(n int, seed uint64) []Row {
	r := rand.New(rand.NewPCG(seed, 0x4a7e))
	g := merge(contentGrammar(), hateGrammar())
	seen := map[string]bool{}
	var out []Row
	families := []struct {
		key, cat string
		weight   int
	}{{"hate2", "HATE", 4}, {"hate", "HATE", 1}, {"group_news", "", 4}, {"group_benign", "", 1}, {"charged_nogroup", "", 1}}
	total := 0
	for _, f := range families {
		total += f.weight
	}
	for i := 0; len(out) < n && i < 20*n; i++ {
		v := r.IntN(total)
		f := families[0]
		for _, c := range families {
			if v < c.weight {
				f = c
				break
			}
			v -= c.weight
		}
		text := g.expandBound(r, "{"+f.key+"}", "group")
		if seen[text] {
			continue
		}
		seen[text] = true
		out = append(out, Row{Text: text, Source: SyntheticHateSource, Category: f.cat})
	}
	return out
}
